# No Bundler: the app runs on Debian's system gems (ruby-railties, ruby-devise, ...), found by RubyGems.
# RubyGems.org is not needed at any point (README.md, "Start it").
