"""A minimal Django project whose INSTALLED_APPS hold both the app's own ``testclock`` and ours."""
