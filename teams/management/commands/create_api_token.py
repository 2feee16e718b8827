from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from teams.models import ApiTokenAccess, Team
from teams.tokens import api_token_create


class Command(BaseCommand):
    help = "Create an API token for a team and print it (shown only this once)."

    def add_arguments(self, parser):
        parser.add_argument("--team", required=True, help="The team's slug.")
        parser.add_argument("--name", required=True, help="What the token is for.")
        parser.add_argument("--access", choices=ApiTokenAccess.values, default=ApiTokenAccess.FULL)

    def handle(self, *args, team: str, name: str, access: str, **options):
        found = Team.objects.filter(slug=team).first()
        if found is None:
            raise CommandError(f"No team with the slug “{team}”.")
        try:
            token, plain = api_token_create(actor=None, team=found, name=name, access=access)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        self.stderr.write(f"Token “{token.name}” for {found.name} ({token.get_access_display()}):")
        self.stdout.write(plain)
