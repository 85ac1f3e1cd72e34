"""The WSGI entry point gunicorn loads in each worker, after fork: `service.wsgi:app`."""

from service import create_app

app = create_app()
