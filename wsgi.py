"""WSGI entry point for gunicorn: `gunicorn wsgi:app`."""

from vendor_portal import create_app

app = create_app()
