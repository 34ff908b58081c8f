# Devise 4.8.1 (Debian's ruby-devise). Only what differs from Devise's defaults is set here.
Devise.setup do |config|
  require "devise/orm/active_record"
  config.mailer_sender = "no-reply@demo.clinic"
  config.case_insensitive_keys = [:email]
  config.strip_whitespace_keys = [:email]
  config.skip_session_storage = [:http_auth]
  config.stretches = 1 # bcrypt's minimum cost (4): the demo accounts sign in fast; a real clinic keeps 12
  config.sign_out_via = :delete
  config.navigational_formats = ["*/*", :html]
  # :timeoutable: seconds of inactivity before the next request finds the session expired
  config.timeout_in = Integer(ENV.fetch("CLINIC_TIMEOUT_IN", "1800")).seconds
  # :lockable: ten wrong passwords in a row lock the account for 10 minutes (no unlock e-mail)
  config.lock_strategy = :failed_attempts
  config.unlock_strategy = :time
  config.maximum_attempts = Integer(ENV.fetch("CLINIC_MAXIMUM_ATTEMPTS", "10"))
  config.unlock_in = Integer(ENV.fetch("CLINIC_UNLOCK_IN", "600")).seconds
  config.last_attempt_warning = false
end
