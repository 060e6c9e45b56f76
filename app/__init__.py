"""The web app: Panel pages served in the same process as the API."""
