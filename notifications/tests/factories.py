import factory

from notifications.models import AutoMessageTemplate, PushSubscription


class PushSubscriptionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PushSubscription

    endpoint = factory.Sequence(lambda n: f"https://push.example.com/send/{n}")
    p256dh = (
        "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM"
    )
    auth = "tBHItJI5svbpez7KI4CCXg"


class AutoMessageTemplateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AutoMessageTemplate

    kind = "welcome_email"
    subject = "Hello from {{ agent_name }}"
    body = "Hi {{ contact_first_name }}, {{ agent_name }} of {{ team_name }} here."
