"""The one Huey instance. It starts in immediate (in-memory) mode so importing tasks connects to
nothing; configure() points it at its SQLite file when the app is created."""
from huey import SqliteHuey

# Work reports its outcome in its own rows (imports, jobs, the ledger), so Huey keeps no results.
huey = SqliteHuey("sendtex", immediate=True, results=False)


def configure(filename, immediate=False):
    """Use the queue file, or run tasks inline (tests) when immediate is true."""
    huey.storage_kwargs["filename"] = filename
    if huey.immediate != immediate:
        huey.immediate = immediate
    elif not immediate:
        huey.storage = huey.create_storage()
