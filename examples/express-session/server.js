// The example clinic: Express 5 + express-session (rolling, cookie.maxAge = the idle timeout, the default
// MemoryStore) + csrf-sync (synchroniser tokens in the session) + idle-js in the browser (public/clinic.js).
//
//   node server.js [PORT]      (PORT also from $PORT; default 8002)
//
// Settings from the environment (README.md): CLINIC_EXPIRE_AFTER (idle timeout, s, default 1800),
// CLINIC_WARN_AFTER (inactivity before the warning, s, default 1680), CLINIC_SECRET (cookie signing),
// CLINIC_DATA (the seeded accounts and patients, default data/clinic.json: `node seed.js`).
'use strict'

const crypto = require('node:crypto')
const fs = require('node:fs')
const path = require('node:path')
const express = require('express')
const session = require('express-session')
const { csrfSync } = require('csrf-sync')

const EXPIRE_S = Number(process.env.CLINIC_EXPIRE_AFTER || 1800)
const WARN_AFTER_S = Number(process.env.CLINIC_WARN_AFTER || 1680)
const SECRET = process.env.CLINIC_SECRET || 'example-clinic-not-a-secret'
const COOKIE = 'clinic.sid'
const DATA = JSON.parse(fs.readFileSync(process.env.CLINIC_DATA || path.join(__dirname, 'data', 'clinic.json'), 'utf8'))
const NOTICES = { idle: 'You were logged out due to inactivity.', logout: 'You have logged out.' }

const store = new session.MemoryStore()
const app = express()
app.disable('x-powered-by')

// Static files and the status oracle come before the session middleware: they never touch a session.
app.use('/static', express.static(path.join(__dirname, 'public')))
app.use('/static/idle-js', express.static(path.join(__dirname, 'node_modules', 'idle-js', 'dist')))

// GET /session/status: the session behind the cookie as the store sees it, read without touching it
// (the page asks before it warns or leaves; the harness's passive oracle). Times in ms since the epoch.
app.get('/session/status', (req, res) => {
  const sid = unsign(readCookie(req.headers.cookie || '', COOKIE))
  const now = Date.now()
  const answer = (sess) => {
    const expires = sess && sess.userId && sess.cookie && Date.parse(sess.cookie.expires)
    const body = { state: expires ? 'active' : 'ended', server_time_ms: now, idle_timeout_s: EXPIRE_S,
      warning_s: EXPIRE_S - WARN_AFTER_S, last_activity_ms: null, idle_deadline_ms: null, warn_at_ms: null }
    if (expires) {
      Object.assign(body, { last_activity_ms: expires - sess.cookie.originalMaxAge, idle_deadline_ms: expires,
        warn_at_ms: expires - (EXPIRE_S - WARN_AFTER_S) * 1000 })
    }
    res.set('Cache-Control', 'no-store').status(expires ? 200 : 401).json(body)
  }
  if (!sid) return answer(null)
  store.get(sid, (err, sess) => (err ? res.sendStatus(500) : answer(sess)))
})

app.use(session({
  name: COOKIE,
  secret: SECRET,
  store,
  resave: false,
  saveUninitialized: false,
  rolling: true,
  cookie: { maxAge: EXPIRE_S * 1000, httpOnly: true, sameSite: 'lax', secure: false }
}))
app.use(express.urlencoded({ extended: false }))
const { csrfSynchronisedProtection, generateToken } = csrfSync({
  getTokenFromRequest: (req) => (req.body && req.body._csrf) || req.headers['x-csrf-token']
})
app.use(csrfSynchronisedProtection)

app.get('/', (req, res) => res.redirect('/patients'))

app.get('/signin', (req, res) => {
  const notice = NOTICES[req.query.reason] || ''
  res.send(page('Sign in', `
  <h1>Sign in</h1>
  ${notice ? `<p role="status" id="signin-notice">${esc(notice)}</p>` : ''}
  ${req.query.error ? '<p role="alert">Wrong username or password.</p>' : ''}
  <form id="signin-form" method="post" action="/signin">
    <input type="hidden" name="_csrf" value="${esc(generateToken(req))}">
    <p><label for="username">Username</label> <input id="username" name="username" autocomplete="username"></p>
    <p><label for="password">Password</label> <input id="password" name="password" type="password"></p>
    <p><button type="submit">Sign in</button></p>
  </form>`))
})

app.post('/signin', async (req, res, next) => {
  const user = DATA.users.find((u) => u.username === req.body.username)
  if (!user || !(await passwordMatches(String(req.body.password || ''), user))) return res.redirect(303, '/signin?error=1')
  req.session.regenerate((err) => { // a new id at sign-in: a planted cookie never becomes a session
    if (err) return next(err)
    req.session.userId = user.username
    generateToken(req, true)
    req.session.save((err2) => (err2 ? next(err2) : res.redirect(303, '/patients')))
  })
})

app.get('/patients', (req, res) => {
  if (!req.session.userId) return res.redirect('/signin')
  const rows = DATA.patients.map((p) => `<tr><td>${esc(p.record_number)}</td><td>${esc(p.full_name)}</td>` +
    `<td>${esc(p.date_of_birth)}</td><td>${esc(p.last_visit)}</td></tr>`).join('\n')
  res.set('Cache-Control', 'no-store')
  res.send(page('Patients', `
  <header><span>${esc(req.session.userId)}</span>
    <form method="post" action="/logout" id="logout-form"><input type="hidden" name="_csrf" value="${esc(generateToken(req))}">
    <button type="submit">Log out</button></form></header>
  <h1>Patients</h1>
  <table id="patient-list"><thead><tr><th>Record</th><th>Name</th><th>Born</th><th>Last visit</th></tr></thead>
  <tbody>${rows}</tbody></table>
  <div id="idle-warning" role="dialog" aria-modal="true" aria-labelledby="idle-warning-title" hidden>
    <h2 id="idle-warning-title">Are you still there?</h2>
    <p>You will be logged out in <span id="idle-countdown"></span>.</p>
    <button type="button" id="stay-logged-in">Stay Logged In</button>
    <button type="button" id="logout-now">Log out now</button>
  </div>
  <script src="/static/idle-js/Idle.js"></script>
  <script src="/static/clinic.js" data-warn-after="${WARN_AFTER_S}" data-expire-after="${EXPIRE_S}"
    data-csrf="${esc(generateToken(req))}"></script>`))
})

// "Stay Logged In" and the page's reports of input: any request through the session middleware touches
// the session (rolling); this one only says so.
app.post('/session/keepalive', (req, res) => {
  if (!req.session.userId) return res.status(401).json({ state: 'ended' })
  res.json({ state: 'active', idle_timeout_s: EXPIRE_S })
})

app.post('/logout', (req, res, next) => {
  req.session.destroy((err) => {
    if (err) return next(err)
    res.clearCookie(COOKIE, { path: '/', httpOnly: true, sameSite: 'lax' })
    res.redirect(303, '/signin?reason=logout')
  })
})

app.use((err, req, res, next) => { // csrf-sync's refusal (403) and anything else, without a stack trace
  res.status(err.status || err.statusCode || 500).type('text').send(err.status ? err.message : 'server error')
})

// scrypt in libuv's thread pool, so that sign-ins do not hold up other requests
async function passwordMatches (password, user) {
  const hash = await new Promise((resolve, reject) =>
    crypto.scrypt(password, Buffer.from(user.salt, 'hex'), 32, (err, key) => (err ? reject(err) : resolve(key))))
  return crypto.timingSafeEqual(hash, Buffer.from(user.hash, 'hex'))
}

function readCookie (header, name) {
  for (const part of header.split(';')) {
    const at = part.indexOf('=')
    if (at > 0 && part.slice(0, at).trim() === name) {
      try { return decodeURIComponent(part.slice(at + 1).trim()) } catch { return null }
    }
  }
  return null
}

// The signed cookie value "s:<id>.<mac>" as express-session writes it (cookie-signature's format).
function unsign (value) {
  if (!value || !value.startsWith('s:')) return null
  const id = value.slice(2, value.lastIndexOf('.'))
  const mac = crypto.createHmac('sha256', SECRET).update(id).digest('base64').replace(/=+$/, '')
  const expected = Buffer.from(`s:${id}.${mac}`)
  return expected.length === Buffer.byteLength(value) && crypto.timingSafeEqual(expected, Buffer.from(value)) ? id : null
}

function esc (text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

function page (title, body) {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)} | Example clinic</title>
  <link rel="stylesheet" href="/static/clinic.css"></head><body>${body}</body></html>`
}

const port = Number(process.argv[2] || process.env.PORT || 8002)
app.listen(port, '127.0.0.1', () => console.log(`example clinic (express-session) on http://127.0.0.1:${port}/ ` +
  `idle timeout ${EXPIRE_S} s, warning after ${WARN_AFTER_S} s`))
