from django.apps import AppConfig


class SimulationConfig(AppConfig):
    """Offline evaluation of feed configs on simulated users (`manage.py simulate`)."""

    name = "simulation"
