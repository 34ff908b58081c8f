class PatientsController < ApplicationController
  # The protected page. no-store (our one addition, as a clinic would): Back after logout must not show it.
  def index
    response.headers["Cache-Control"] = "no-store"
    @patients = Patient.all
  end
end
