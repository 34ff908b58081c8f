"""The fault catalogue and its runner: realistic mistakes planted one at a time in a scratch copy of the
reference server, judged only by the black-box suites (browser scenarios, load smoke). See docs/faults.md.

    python -m faults.run --list                 # the catalogue
    python -m faults.run --check                # every patch still applies to today's simulator/
    python -m faults.run [--faults a,b] [--skip-load] [--jobs N]    # make faults
    python -m faults.serve --fault NAME [sessionsim serve options]  # one broken server, by hand
"""
