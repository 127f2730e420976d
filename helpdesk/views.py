"""UI views of the platform: the landing page of a logged-in agent."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render


@login_required
def home(request):
    return render(request, "home.html", {"principal": request.principal})
