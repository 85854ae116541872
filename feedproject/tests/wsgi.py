"""Requests through Django's WSGI handler as a server such as gunicorn makes them.

The test client always sets a Content-Length and closes the response itself; these send a chunked
body or a lying Content-Length, and let a test look between writing the body and closing.
"""
import io

from django.core.handlers.wsgi import WSGIHandler


def wsgi_environ(method, path, body=b"", headers=None, *, chunked=False, content_length=None):
    """The WSGI environ of a JSON request; `path` may carry a query string."""
    path, _, query = path.partition("?")
    environ = {
        "REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query, "SERVER_NAME": "localhost",
        "SERVER_PORT": "80", "HTTP_HOST": "localhost", "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body), "CONTENT_TYPE": "application/json",
        **{"HTTP_" + name.upper().replace("-", "_"): value for name, value in (headers or {}).items()},
    }
    if chunked:
        environ["HTTP_TRANSFER_ENCODING"] = "chunked"
    else:
        environ["CONTENT_LENGTH"] = str(len(body) if content_length is None else content_length)
    return environ


def wsgi_open(environ):
    """(status code, the response iterable): the server has not written or closed it yet."""
    status = []
    response = WSGIHandler()(environ, lambda code, headers, exc_info=None: status.append(code))
    return int(status[0].split()[0]), response


def wsgi_call(method, path, body=b"", headers=None, **environ_options):
    """(status code, body bytes) of a whole request: the body written, then the response closed."""
    code, response = wsgi_open(wsgi_environ(method, path, body, headers, **environ_options))
    try:
        return code, b"".join(response)
    finally:
        response.close()
