require_relative "boot"
require "rails"
require "active_record/railtie"
require "action_controller/railtie"
require "action_view/railtie"
require "devise"

module Clinic
  # A minimal clinic: Devise sign-in (:database_authenticatable, :timeoutable, :lockable), a patient list, logout.
  class Application < Rails::Application
    config.load_defaults 6.1
    config.root = File.expand_path("..", __dir__)
    config.eager_load = true
    config.cache_classes = true
    config.consider_all_requests_local = ENV["CLINIC_DEBUG"] == "1"
    config.log_level = ENV.fetch("CLINIC_LOG_LEVEL", "info").to_sym
    config.logger = ActiveSupport::Logger.new($stdout)
    # A fixed development secret unless one is given: the session cookie is signed and encrypted with it.
    config.secret_key_base = ENV.fetch("CLINIC_SECRET_KEY_BASE", "clinic-example-not-a-secret-" + "0" * 64)
    # Rails' default session store, as `rails new` sets it up: the whole session lives in the cookie.
    config.session_store :cookie_store, key: "_clinic_session"
    config.hosts.clear
  end
end
# Devise::Mailer exists only with Action Mailer, which this app does not load (no e-mail): not eager-loaded.
Rails.autoloaders.main.ignore(File.join(Gem.loaded_specs["devise"].full_gem_path, "app/mailers"))
