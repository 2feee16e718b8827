import factory

from contacts.models import Contact


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.Sequence(lambda n: f"lead{n}@example.net")
    phone = factory.Sequence(lambda n: f"+1555{n:07d}")
    source = "Zillow"
    contact_type = "buyer"
    city = "Austin"
    state = "TX"
