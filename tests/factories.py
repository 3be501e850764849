"""factory_boy factories for the product spec. Tests build data with these, never with fixture files."""

import datetime

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from products import choices
from products.models import (
    KPI,
    SLO,
    DataProduct,
    Domain,
    Goal,
    Hypothesis,
    Initiative,
    Output,
    OutputColumn,
    ProductInput,
    Tag,
    Team,
    UsagePattern,
    UseCase,
)
from quality.models import Check

PASSWORD = "correct-horse-battery"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def save_password(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class ProductManagerFactory(UserFactory):
    @factory.post_generation
    def groups(obj, create, extracted, **kwargs):
        if create:
            obj.groups.add(Group.objects.get_or_create(name="Product managers")[0])


class AdminFactory(UserFactory):
    is_staff = True
    is_superuser = True


class DomainFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Domain
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Domain {n}")
    slug = factory.Sequence(lambda n: f"domain-{n}")


class TagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tag
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"tag-{n}")


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Team {n}")
    slug = factory.Sequence(lambda n: f"team-{n}")


class DataProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DataProduct
        skip_postgeneration_save = True

    slug = factory.Sequence(lambda n: f"product-{n}")
    name = factory.Sequence(lambda n: f"Product {n}")
    domain = factory.SubFactory(DomainFactory)
    summary = "Insights that help the business decide."
    vision = "Help **sales** find cross-sell opportunities."
    status = choices.Status.PUBLISHED
    owner = factory.SubFactory(UserFactory)
    # A deprecated product names the day it retires (the model insists); a retired one the day it did.
    sunset_date = factory.LazyAttribute(
        lambda o: (
            datetime.date(2027, 6, 30) if o.status in (choices.Status.DEPRECATED, choices.Status.RETIRED) else None
        )
    )

    @factory.post_generation
    def stewards(obj, create, extracted, **kwargs):
        if create and extracted:
            obj.stewards.add(*extracted)

    @factory.post_generation
    def tags(obj, create, extracted, **kwargs):
        if create and extracted:
            obj.tags.add(*extracted)


class GoalFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Goal

    product = factory.SubFactory(DataProductFactory)
    title = factory.Sequence(lambda n: f"Goal {n}")
    success_measure = "Cross-sell revenue share"
    target_value = 15
    target_unit = "%"


class InitiativeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Initiative

    product = factory.SubFactory(DataProductFactory)
    title = factory.Sequence(lambda n: f"Initiative {n}")


class HypothesisFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Hypothesis

    product = factory.SubFactory(DataProductFactory)
    title = factory.Sequence(lambda n: f"Hypothesis {n}")
    goal = factory.SubFactory(GoalFactory, product=factory.SelfAttribute("..product"))
    initiative = factory.SubFactory(InitiativeFactory, product=factory.SelfAttribute("..product"))
    statement = "We believe that bundles will help achieve a higher order value."


class UseCaseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = UseCase

    product = factory.SubFactory(DataProductFactory)
    title = factory.Sequence(lambda n: f"Use case {n}")
    stakeholders = "Sales managers"


class UsagePatternFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = UsagePattern

    product = factory.SubFactory(DataProductFactory)
    name = factory.Sequence(lambda n: f"Usage {n}")
    users = "Sales analysts"


class OutputFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Output

    product = factory.SubFactory(DataProductFactory)
    name = factory.Sequence(lambda n: f"output_{n}")
    kind = choices.OutputKind.FILE
    format = choices.OutputFormat.PARQUET
    path = factory.LazyAttribute(lambda o: f"{o.product.slug}/{o.name}.parquet")


class OutputColumnFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OutputColumn

    output = factory.SubFactory(OutputFactory)
    name = factory.Sequence(lambda n: f"column_{n}")
    data_type = choices.DataType.STRING
    role = choices.ColumnRole.DIMENSION
    classification = choices.Classification.INTERNAL


class KPIFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = KPI

    product = factory.SubFactory(DataProductFactory)
    name = factory.Sequence(lambda n: f"KPI {n}")
    level = choices.KPILevel.L1
    unit = "EUR"


class SLOFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SLO

    product = factory.SubFactory(DataProductFactory)
    name = factory.Sequence(lambda n: f"SLO {n}")
    indicator = "Output refreshed within 24 hours"
    objective_percent = 99
    window_days = 28


class ProductInputFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProductInput

    product = factory.SubFactory(DataProductFactory)
    kind = choices.InputKind.OUTPUT
    source_output = factory.SubFactory(OutputFactory)


class CheckFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Check

    output = factory.SubFactory(OutputFactory)
    name = factory.Sequence(lambda n: f"check {n}")
    check_type = "row_count"
