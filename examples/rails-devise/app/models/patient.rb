class Patient < ApplicationRecord
  default_scope { order(:record_number) }
end
