"""Binds every scenario of features/ (bdd_features_base_dir) to a test; the steps come from conftest.py."""

from pytest_bdd import scenarios

scenarios(".")
