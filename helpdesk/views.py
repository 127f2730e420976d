"""UI views of the platform: the landing page of a logged-in agent, and the sign-in page of a lockout."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.shortcuts import render

MSG_LOCKED_OUT = (
    "Too many failed sign-ins for this account or from this address. Try again in {minutes} minutes, "
    "or ask an administrator of your workspace to unlock your account."
)


@login_required
def home(request):
    return render(request, "home.html", {"principal": request.principal})


def login_locked_out(request, response=None, credentials=None):
    """django-axes' lockout answer (settings.AXES_LOCKOUT_CALLABLE): the sign-in page again, saying why,
    with 429. The password was not even checked."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    context = {
        "form": AuthenticationForm(request),
        "next": request.POST.get("next", ""),
        "locked_out": MSG_LOCKED_OUT.format(minutes=minutes),
    }
    return render(request, "registration/login.html", context, status=429)
