from personalization.tests.served_traffic import base, markets  # noqa: F401 - fixtures of the learned ranker's tests
