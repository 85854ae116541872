"""JSON error answers for paths under /api/, so an API client never has to parse an HTML page.

The body has the shape DRF gives its own errors: {"detail": "..."}. Pages outside /api/ (the demo,
the admin) keep Django's HTML answers.
"""
from django.http import JsonResponse
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt


def _is_api(request):
    return request.path.startswith("/api/")


# Exempt so that a POST to an unknown path is a 404, not CSRF's HTML 403: there is nothing to protect.
@csrf_exempt
def api_not_found(request, *args, **kwargs):
    """The last /api/ route: any path no API view claimed, with any method."""
    return JsonResponse({"detail": "Not found."}, status=404)


def server_error(request, *args, **kwargs):
    """handler500: JSON under /api/, Django's page elsewhere. Says nothing of the error itself."""
    if _is_api(request):
        return JsonResponse({"detail": "A server error occurred."}, status=500)
    return defaults.server_error(request, *args, **kwargs)
