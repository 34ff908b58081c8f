# What the session looks like, without extending it: Devise's timeoutable hook does not write
# last_request_at when the request sets env["devise.skip_trackable"] (devise/hooks/timeoutable.rb:31),
# the switch Devise offers for background requests. A session past its timeout is still ended (24-28).
class SessionStatusController < ActionController::Base
  def show
    request.env["devise.skip_trackable"] = true
    now = Time.now
    if warden.authenticate(scope: :user)
      last = warden.session(:user)["last_request_at"]
      render json: { state: "active", server_time_ms: (now.to_r * 1000).to_i, last_request_at: last,
                     timeout_in: Devise.timeout_in.to_i }
    else
      render json: { state: "ended", server_time_ms: (now.to_r * 1000).to_i }, status: 401
    end
  end
end
