class ApplicationController < ActionController::Base
  before_action :authenticate_user!

  private

  def after_sign_out_path_for(_scope) = new_user_session_path  # the Sign in page keeps "Signed out successfully."
end
