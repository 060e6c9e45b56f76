"""REST handlers of cc-backend's ``/api/`` and ``/userapi/`` routes."""
