"""The clinic's one app: patients, their list page, the login template and the seed command."""
