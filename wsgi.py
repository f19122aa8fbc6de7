from sendtex import create_app

app = create_app()
