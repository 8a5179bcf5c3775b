"""Cap every resize at the largest flavor this site sells (the point lets post replace)."""

ALLOWED = ["m1.small", "m1.medium", "m1.large"]


def post(rv, instance, flavor):
    if rv["flavor"] not in ALLOWED:
        capped = dict(rv)
        capped["flavor"] = ALLOWED[-1]
        log.info("capped %s from %s to %s", rv["name"], rv["flavor"], capped["flavor"])
        return capped
    return None
