"""Verifying DKIM signatures in tests the way receivers do: with dkimpy and with OpenDKIM (Debian's opendkim)."""
import os
import shutil
import subprocess

import dkim
import pytest

OPENDKIM_PATHS = ("/usr/sbin/opendkim", "/usr/bin/opendkim")


def opendkim_binary():
    """The opendkim program; skips outside CI when it is missing, fails in CI (`make test` installs it)."""
    found = shutil.which("opendkim") or next((path for path in OPENDKIM_PATHS if os.path.exists(path)), None)
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("opendkim is missing in CI: `make test` should have installed opendkim and opendkim-tools")
        pytest.skip("OpenDKIM verification needs Debian's opendkim (apt-get install opendkim opendkim-tools)")
    return found


def verify_with_dkimpy(message, record):
    """True if dkimpy verifies the message's DKIM signature against record = (TXT name, TXT value)."""
    name, value = record

    def dnsfunc(query, timeout=5):
        return value.encode() if query.decode().rstrip(".").lower() == name.lower() else None

    return dkim.verify(message, dnsfunc=dnsfunc)


def verify_with_opendkim(message, record, workdir):
    """(passed, output) of `opendkim -t` verifying the message offline against record = (TXT name, TXT value)."""
    binary = opendkim_binary()
    workdir.mkdir(parents=True, exist_ok=True)
    dns_file, config, eml = workdir / "dns.txt", workdir / "opendkim.conf", workdir / "message.eml"
    dns_file.write_text("%s %s\n" % record)
    config.write_text(f"Mode v\nSyslog no\nTestDNSData file:{dns_file}\n")
    eml.write_bytes(message)
    run = subprocess.run([binary, "-x", str(config), "-t", str(eml), "-vv"], capture_output=True, text=True,
                         timeout=30)
    output = run.stdout + run.stderr
    # opendkim -t exits 0 for a failed verification too: its report is what tells.
    passed = run.returncode == 0 and "dkim=pass" in output and " succeeded" in output and "dkim=fail" not in output
    return passed, output
