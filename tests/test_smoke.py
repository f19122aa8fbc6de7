from tests.conftest import login, post


def test_register_then_dashboard(client):
    response = post(client, "/register", {"account_name": "Shop", "name": "Ann", "email": "Ann@Example.com",
                                          "password": "a long passphrase here"})
    assert response.status_code == 303
    page = client.get("/app").get_data(as_text=True)
    assert "Shop" in page and "Welcome to Sendtex, Ann." in page


def test_login_page_htmx_fragment(client, owner):
    response = post(client, "/login", {"email": owner.email, "password": "wrong password!"}, htmx=True)
    assert response.status_code == 422
    assert "<html" not in response.get_data(as_text=True)
    login(client, owner)
