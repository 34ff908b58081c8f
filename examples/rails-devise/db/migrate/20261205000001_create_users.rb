class CreateUsers < ActiveRecord::Migration[6.1]
  def change
    create_table :users do |t|
      t.string :email, null: false, default: "", index: { unique: true }
      t.string :encrypted_password, null: false, default: ""
      t.string :role, null: false, default: "practitioner"
      t.integer :failed_attempts, default: 0, null: false  # :lockable
      t.datetime :locked_at
      t.timestamps null: false
    end
  end
end
