# The demo accounts and ten invented patients, the same as examples/django-session-security's seed_clinic;
# idempotent (passwords and locks reset on every run).
ACCOUNTS = [
  ["admin@demo.clinic", "demo-admin", "admin"],
  ["practitioner@demo.clinic", "demo-practitioner", "practitioner"],
  ["practitioner2@demo.clinic", "demo-practitioner-2", "practitioner"],
  ["reception@demo.clinic", "demo-reception", "reception"],
].freeze
PATIENTS = [
  ["MRN-000101", "Amelia Hart", "1984-03-12", "2025-01-14"], ["MRN-000102", "Bruno Keller", "1971-07-02", "2025-02-03"],
  ["MRN-000103", "Chiara Rossi", "1992-11-23", "2024-12-19"], ["MRN-000104", "Daniel Okafor", "1966-05-30", "2025-01-28"],
  ["MRN-000105", "Elena Petrova", "1989-09-08", "2025-02-11"], ["MRN-000106", "Farah Haddad", "2001-01-17", "2024-11-05"],
  ["MRN-000107", "George Lindqvist", "1958-04-04", "2025-02-20"], ["MRN-000108", "Hana Sato", "1995-06-26", "2025-01-07"],
  ["MRN-000109", "Isaac Mendes", "1979-10-15", "2024-10-30"], ["MRN-000110", "Julia Novak", "1987-02-09", "2025-02-25"],
].freeze

ActiveRecord::Base.transaction do
  ACCOUNTS.each do |email, password, role|
    user = User.find_or_initialize_by(email: email)
    user.update!(password: password, role: role, failed_attempts: 0, locked_at: nil)
  end
  PATIENTS.each do |number, name, born, visit|
    Patient.find_or_initialize_by(record_number: number).update!(full_name: name, date_of_birth: born, last_visit: visit)
  end
end
puts "Seeded #{PATIENTS.size} patients and these accounts:"
ACCOUNTS.each { |email, password, role| puts format("  %-28s %-22s %s", email, password, role) }
