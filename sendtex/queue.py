"""The one Huey instance. It starts in immediate (in-memory) mode so importing tasks connects to
nothing; configure() points it at its SQLite file when the app is created."""
from huey import SqliteHuey

huey = SqliteHuey("sendtex", immediate=True)


def configure(filename, immediate=False):
    """Use the queue file, or run tasks inline (tests) when immediate is true."""
    huey.storage_kwargs["filename"] = filename
    if huey.immediate != immediate:
        huey.immediate = immediate
    elif not immediate:
        huey.storage = huey.create_storage()
