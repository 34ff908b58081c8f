Rails.application.routes.draw do
  devise_for :users
  resources :patients, only: :index
  get "session/status", to: "session_status#show"
  root to: redirect("/patients")
end
