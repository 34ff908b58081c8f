class CreatePatients < ActiveRecord::Migration[6.1]
  def change
    create_table :patients do |t|
      t.string :record_number, null: false, index: { unique: true }
      t.string :full_name, null: false
      t.date :date_of_birth, null: false
      t.date :last_visit, null: false
    end
  end
end
