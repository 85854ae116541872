"""Entry point of one arm's process: `python -m simulation.worker ARM.json`.

Each arm that drives the system gets its own scratch SQLite file and an in-process cache, so arms
run side by side without sharing state, and nothing touches the project's own database or Redis.
The spec names the world (catalog, sizes, seed, start), the strategy and where to write the result.
"""
import json
import os
import secrets
import sys
import time


def main(spec_path):
    with open(spec_path) as f:
        spec = json.load(f)
    scratch = spec["scratch_dir"]
    os.environ.update({
        "DJANGO_SETTINGS_MODULE": "feedproject.settings",
        "DATABASE_URL": f"sqlite:///{os.path.join(scratch, 'arm.sqlite3')}",
        "FEED_VAR_DIR": scratch,
        # No query log: with DEBUG on, every statement is also formatted and kept (a third of the run).
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY") or secrets.token_urlsafe(50),  # scratch process
    })
    os.environ.pop("REDIS_URL", None)
    import django

    django.setup()
    from simulation.runner import arm_result

    started = time.monotonic()
    result = arm_result(spec, progress=lambda message: print(message, file=sys.stderr, flush=True))
    result["runtime_seconds"] = round(time.monotonic() - started, 1)
    with open(spec["out"], "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main(sys.argv[1])
