// `node seed.js`: writes data/clinic.json, the demo accounts (scrypt hashes of their known passwords) and
// ten invented patients, the same set as examples/django-session-security (seed_clinic). Idempotent: the
// file is rewritten each time (new salts, same passwords).
'use strict'
const crypto = require('node:crypto')
const fs = require('node:fs')
const path = require('node:path')

const ACCOUNTS = [ // username, password, role
  ['admin@demo.clinic', 'demo-admin', 'admin'],
  ['practitioner@demo.clinic', 'demo-practitioner', 'practitioner'],
  ['practitioner2@demo.clinic', 'demo-practitioner-2', 'practitioner'],
  ['reception@demo.clinic', 'demo-reception', 'reception']
]
const PATIENTS = [ // record number, name, date of birth, last visit: invented people
  ['MRN-000101', 'Amelia Hart', '1984-03-12', '2025-01-14'], ['MRN-000102', 'Bruno Keller', '1971-07-02', '2025-02-03'],
  ['MRN-000103', 'Chiara Rossi', '1992-11-23', '2024-12-19'], ['MRN-000104', 'Daniel Okafor', '1966-05-30', '2025-01-28'],
  ['MRN-000105', 'Elena Petrova', '1989-09-08', '2025-02-11'], ['MRN-000106', 'Farah Haddad', '2001-01-17', '2024-11-05'],
  ['MRN-000107', 'George Lindqvist', '1958-04-04', '2025-02-20'], ['MRN-000108', 'Hana Sato', '1995-06-26', '2025-01-07'],
  ['MRN-000109', 'Isaac Mendes', '1979-10-15', '2024-10-30'], ['MRN-000110', 'Julia Novak', '1987-02-09', '2025-02-25']
]

const users = ACCOUNTS.map(([username, password, role]) => {
  const salt = crypto.randomBytes(16)
  return { username, role, salt: salt.toString('hex'), hash: crypto.scryptSync(password, salt, 32).toString('hex') }
})
const patients = PATIENTS.map(([record_number, full_name, date_of_birth, last_visit]) => // eslint-disable-line camelcase
  ({ record_number, full_name, date_of_birth, last_visit }))
const out = process.env.CLINIC_DATA || path.join(__dirname, 'data', 'clinic.json')
fs.mkdirSync(path.dirname(out), { recursive: true })
fs.writeFileSync(out, JSON.stringify({ users, patients }, null, 1) + '\n')
console.log(`Seeded ${patients.length} patients and these accounts (${out}):`)
for (const [username, password, role] of ACCOUNTS) console.log(`  ${username.padEnd(28)} ${password.padEnd(22)} ${role}`)
