"""gunicorn's settings beyond the Procfile's command line (gunicorn reads this file from the
working directory on its own).

Workers start warm: the application, and the libraries a verdict needs, are imported once
in the master process, before it forks its workers. Without this, the first verdict or
model card of each worker (after every start, and every recycling by --max-requests)
waited about 1 s, 2 to 5 s under load, for scikit-learn to be imported, and the requests
queued behind it on that worker's connections waited too.
"""

preload_app = True


def on_starting(server: object) -> None:
    from predictor.artifacts import warm_up

    warm_up()
