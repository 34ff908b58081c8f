"""``seed_clinic``: the demo accounts and patients."""
