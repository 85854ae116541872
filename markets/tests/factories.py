"""factory_boy factories for the catalog, shared by every app's tests."""
import factory
from django.utils import timezone

from markets.models import EditorialBoost, Market, MarketSnapshot, Tag


class TagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tag
        django_get_or_create = ("slug",)

    label = factory.Sequence(lambda n: f"Tag {n}")
    slug = factory.LazyAttribute(lambda o: o.label.lower().replace(" ", "-"))


class MarketFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Market
        skip_postgeneration_save = True

    market_id = factory.Sequence(lambda n: f"market-{n}")
    title = factory.Sequence(lambda n: f"Will thing {n} happen?")
    category = "Sports"
    probability = 0.5
    volume_24h = 1000.0
    volume_total = 50000.0
    participant_count = 100
    image_url = factory.LazyAttribute(lambda o: f"https://img.example/{o.market_id}.png")
    status = Market.Status.OPEN
    created_at = factory.LazyFunction(timezone.now)

    @factory.post_generation
    def tags(self, create, extracted, **kwargs):
        if create and extracted:
            self.tags.set(extracted)


class MarketSnapshotFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MarketSnapshot

    market = factory.SubFactory(MarketFactory)
    taken_at = factory.LazyFunction(timezone.now)
    probability = factory.SelfAttribute("market.probability")
    volume_24h = factory.SelfAttribute("market.volume_24h")
    volume_total = factory.SelfAttribute("market.volume_total")
    participant_count = factory.SelfAttribute("market.participant_count")


class EditorialBoostFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EditorialBoost

    market = factory.SubFactory(MarketFactory)
    value = 0.5
    starts_at = factory.LazyFunction(lambda: timezone.now() - timezone.timedelta(hours=1))
    ends_at = factory.LazyFunction(lambda: timezone.now() + timezone.timedelta(days=1))
