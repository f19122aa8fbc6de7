"""Field encryption, blind index, encrypted files and the contact value store."""
import pytest

from sendtex import audience
from sendtex.crypto import (
    BlindIndex, DecryptionError, EncryptedFileWriter, FieldCipher, associated_data, new_key_text, read_encrypted_file,
)
from sendtex.models.contacts import Contact, Field
from sendtex.validation import Invalid
from tests.conftest import make_account

RING = "k1:" + new_key_text()


def test_sealed_value_opens_only_where_it_belongs():
    cipher = FieldCipher(RING)
    token = cipher.seal("Janssens", associated_data(1, "last_name", "uid-a"))
    assert "Janssens" not in token and token.startswith("k1$")
    assert cipher.open(token, associated_data(1, "last_name", "uid-a")) == "Janssens"
    for moved in (associated_data(2, "last_name", "uid-a"), associated_data(1, "first_name", "uid-a"),
                  associated_data(1, "last_name", "uid-b")):
        with pytest.raises(DecryptionError):
            cipher.open(token, moved)


def test_two_seals_of_one_value_differ():
    cipher = FieldCipher(RING)
    aad = associated_data(1, "email", "u")
    assert cipher.seal("a@example.com", aad) != cipher.seal("a@example.com", aad)


def test_key_ring_old_keys_decrypt_new_key_encrypts():
    old = FieldCipher(RING)
    token = old.seal("Marie", b"x")
    rotated = FieldCipher("k2:" + new_key_text() + "," + RING)
    assert rotated.open(token, b"x") == "Marie"
    assert not rotated.is_current(token) and rotated.is_current(rotated.seal("Marie", b"x"))
    with pytest.raises(DecryptionError, match="not in the key ring"):
        FieldCipher("k3:" + new_key_text()).open(token, b"x")


def test_blind_index_is_per_account_and_keyed():
    index = BlindIndex(new_key_text())
    assert index.email(1, "ann@example.com") == index.email(1, "ann@example.com")
    assert index.email(1, "ann@example.com") != index.email(2, "ann@example.com")
    assert index.email(1, "ann@example.com") != BlindIndex(new_key_text()).email(1, "ann@example.com")


def test_encrypted_file_round_trip_and_tamper_detection(tmp_path):
    path = tmp_path / "upload.bin"
    data = ("email;name\n" + "jan@example.com;Jan Janssens\n" * 10000).encode()
    with EncryptedFileWriter(path, RING) as writer:
        for start in range(0, len(data), 7777):
            writer.write(data[start:start + 7777])
    assert b"Janssens" not in path.read_bytes()
    assert b"".join(read_encrypted_file(path, RING)) == data
    raw = bytearray(path.read_bytes())
    path.write_bytes(bytes(raw[:-10]))
    with pytest.raises(DecryptionError):
        b"".join(read_encrypted_file(path, RING))


@pytest.mark.parametrize("address, expected", [
    ("Ann.Example+tag@Example.COM", "ann.example+tag@example.com"),
    ("  jan@sub.example.be ", "jan@sub.example.be"),
    ("info@xn--bcher-kva.example", "info@xn--bcher-kva.example"),
    ("info@bücher.example", "info@bücher.example"),
])
def test_fast_email_normalisation_agrees_with_the_full_check(address, expected):
    assert audience.fast_normalise_email(address) == expected


@pytest.mark.parametrize("address", ["plainaddress", "a@b", "two@@example.com", "dot.@example.com", "a b@example.com"])
def test_bad_addresses_are_refused(address):
    with pytest.raises(Invalid):
        audience.fast_normalise_email(address)


def test_contact_values_are_sealed_where_encrypted(app):
    with app.app_context():
        account = make_account()
        fields = audience.FieldSet(account.id)
        Field.update(encrypted=True).where((Field.account == account.id) & (Field.key.in_(["email", "last_name"]))).execute()
        Field.create(account=account, key="city", label="City", type="text", encrypted=True)
        Field.create(account=account, key="age", label="Age", type="number")
        fields = audience.FieldSet(account.id)
        values, errors = fields.coerce_all({"email": "Jan@Example.com", "first_name": "Jan", "last_name": "Peeters",
                                            "city": "Gent", "age": "42"})
        assert not errors
        contact = audience.create_contact(fields, values)
        stored = Contact.get_by_id(contact.id)
        assert stored.email is None and stored.last_name is None and stored.first_name == "Jan"
        assert set(stored.sealed) == {"email", "last_name", "city"} and stored.attributes == {"age": 42}
        assert audience.read_values(stored, fields) == (
            {"email": "jan@example.com", "first_name": "Jan", "last_name": "Peeters", "city": "Gent", "age": 42}, {})
        assert audience.find_by_email(account.id, "JAN@example.com").id == contact.id
        with pytest.raises(audience.DuplicateContact):
            audience.create_contact(fields, {"email": "jan@example.com"})


@pytest.mark.parametrize("kind, raw, expected", [
    ("number", "12,5", 12.5), ("number", "7", 7), ("date", "31/12/2026", "2026-12-31"),
    ("date", "2026-01-02", "2026-01-02"), ("boolean", "ja", True), ("boolean", "", False), ("text", "  x ", "x"),
])
def test_values_are_coerced_by_type(kind, raw, expected):
    assert audience.coerce(Field(key="f", label="F", type=kind), raw) == expected


@pytest.mark.parametrize("kind, raw, message", [
    ("number", "twelve", "must be a number"), ("date", "31-31-2026", "must be a date"),
    ("boolean", "perhaps", "must be yes or no"), ("choice", "Purple", "must be one of Red, Blue"),
])
def test_wrong_types_are_refused_with_a_reason(kind, raw, message):
    with pytest.raises(Invalid, match=message):
        audience.coerce(Field(key="f", label="F", type=kind, choices=["Red", "Blue"]), raw)
