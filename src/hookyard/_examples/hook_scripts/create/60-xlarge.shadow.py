"""A rule being tried out: m1.xlarge only for batch instances.

A shadow script (its name ends in .shadow.py): it runs on every call, but its veto is only
recorded ("would have vetoed") and its api calls are not made. Rename it to 60-xlarge.py
to enforce it (docs/rollout.md).
"""


def pre(name, flavor, **options):
    if flavor == "m1.xlarge" and not name.startswith("batch-"):
        api.notify(f"{name} asked for m1.xlarge")
        raise Veto(f"m1.xlarge is for batch instances, not {name!r}")
