import factory
from django.contrib.auth.models import User

from teams.models import AgentTag, Group, Membership, PermissionProfile, Role, Team
from teams.services import membership_add, team_create


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", "pw")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


def make_team(
    *, name: str = "Acme Realty", plan: str = "premier", owner: User | None = None
) -> Team:
    """A team through the real service: owner, standard profiles, Default Rule."""
    return team_create(name=name, owner=owner or UserFactory(), plan=plan)


def make_member(
    team: Team, *, role: str = Role.AGENT, user: User | None = None, tags=(), groups=(), **fields
) -> Membership:
    membership = membership_add(team=team, user=user or UserFactory(), role=role, **fields)
    for name in tags:
        membership.tags.add(AgentTag.objects.get_or_create(team=team, name=name)[0])
    if groups:
        membership.groups.add(*groups)
    return membership


class GroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Group

    name = factory.Sequence(lambda n: f"Office {n}")


class PermissionProfileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PermissionProfile

    name = factory.Sequence(lambda n: f"Profile {n}")
