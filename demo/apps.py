from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo site: its catalog generator and simulated activity (seed_demo), and the demo page."""

    name = "demo"
