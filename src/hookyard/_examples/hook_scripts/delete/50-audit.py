"""Log each deletion, and each failed one."""


def post(rv, instance):
    log.info("deleted %s", instance["name"])


def error(exc, instance):
    log.warning("deleting %s failed: %s", instance["name"], exc)
