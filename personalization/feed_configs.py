"""Writes of versioned feed configs: a save makes a new version, never edits one; one active per surface."""
from django.core.exceptions import ValidationError
from django.db import transaction

from feedproject.cache import cache_set
from feedproject.vocabulary import Surface
from personalization.models import FeedConfig
from personalization.ranking.config import validate_params


def feed_config_version_cache_key(surface):
    return f"feedconfig:version:{surface}"


def _publish_active_version(surface, version):
    # Readers compare this number with the config they hold; the database stays the
    # source of truth, so a cache that is down only delays their refresh.
    cache_set(feed_config_version_cache_key(surface), version, None)


def _lock_surface_versions(surface):
    """Lock the surface's rows: concurrent saves then take version numbers one after the other."""
    return list(FeedConfig.objects.select_for_update().filter(surface=surface).values_list("version", flat=True))


@transaction.atomic
def feed_config_save_version(*, surface, params, note, created_by, activate):
    """Store `params` as the next version of `surface`; with `activate`, it replaces the active one."""
    if surface not in set(Surface):
        raise ValidationError(f"Unknown surface {surface!r}.")
    errors = validate_params(params)
    if errors:
        raise ValidationError([f"{key} {message}" for key, message in errors])
    versions = _lock_surface_versions(surface)
    if activate:
        # Before the insert: the partial unique index allows one active row per surface.
        FeedConfig.objects.filter(surface=surface, is_active=True).update(is_active=False)
    config = FeedConfig.objects.create(
        surface=surface,
        version=max(versions, default=0) + 1,
        is_active=activate,
        params=params,
        note=note,
        created_by=created_by,
    )
    if activate:
        transaction.on_commit(lambda: _publish_active_version(surface, config.version))
    return config


@transaction.atomic
def feed_config_activate(*, config):
    """Make `config` the version its surface serves; the previously active one is kept, inactive."""
    _lock_surface_versions(config.surface)
    FeedConfig.objects.filter(surface=config.surface, is_active=True).exclude(pk=config.pk).update(is_active=False)
    FeedConfig.objects.filter(pk=config.pk).update(is_active=True)
    config.is_active = True
    transaction.on_commit(lambda: _publish_active_version(config.surface, config.version))
    return config
