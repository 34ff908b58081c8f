// The page's side of the idle timeout (README.md, "The browser's part"). idle-js says when this tab has
// had no input for CLINIC_WARN_AFTER seconds; the page then asks the server how much time is left
// (GET /session/status, which touches nothing) and shows the warning with a countdown of the time left,
// or leaves for the sign-in page when the server has ended the session. Input while no warning is shown
// is reported to the server (POST /session/keepalive) at most every 20 s; only "Stay Logged In" answers
// the warning. Offline, the page counts down on its own and leaves at the deadline.
/* global IdleJs */
(function () {
  'use strict'
  const script = document.currentScript
  const warnAfterMs = Number(script.dataset.warnAfter) * 1000
  const leadMs = Number(script.dataset.expireAfter) * 1000 - warnAfterMs
  const csrf = script.dataset.csrf
  const dialog = document.getElementById('idle-warning')
  const countdown = document.getElementById('idle-countdown')
  const REPORT_EVERY_MS = 20000
  let deadline = Date.now() + warnAfterMs + leadMs // this browser's clock; reset from the server's answers
  let lastReport = Date.now() // the page load itself touched the session
  let recheck = null
  let ticking = null

  function leave () { window.location.assign('/signin?reason=idle') }

  function mmss (ms) {
    const s = Math.max(0, Math.ceil(ms / 1000))
    return String(Math.floor(s / 60)).padStart(2, '0') + ':' + String(s % 60).padStart(2, '0')
  }

  function hideWarning () {
    dialog.hidden = true
    clearInterval(ticking)
  }

  function showWarning () {
    if (dialog.hidden) {
      dialog.hidden = false
      document.getElementById('stay-logged-in').focus()
    }
    clearInterval(ticking)
    const tick = () => {
      const left = deadline - Date.now()
      countdown.textContent = mmss(left)
      if (left <= 0) { clearInterval(ticking); check() }
    }
    tick()
    ticking = setInterval(tick, 1000)
  }

  // Ask the server how long is left (another tab may have kept the session going), then warn, wait or leave.
  async function check () {
    clearTimeout(recheck)
    let status = null
    try {
      const answer = await fetch('/session/status', { cache: 'no-store', credentials: 'same-origin' })
      status = await answer.json()
    } catch (err) { /* offline: carry on with this page's own countdown */ }
    if (status && status.state !== 'active') return leave()
    if (status) deadline = Date.now() + (status.idle_deadline_ms - status.server_time_ms)
    const left = deadline - Date.now()
    if (left <= 0) return leave()
    if (left > leadMs) {
      hideWarning()
      recheck = setTimeout(check, left - leadMs)
    } else {
      showWarning()
      recheck = setTimeout(check, left)
    }
  }

  async function keepAlive () {
    lastReport = Date.now()
    try {
      const answer = await fetch('/session/keepalive', { method: 'POST', credentials: 'same-origin',
        headers: { 'X-CSRF-Token': csrf } })
      if (answer.status === 401) return leave()
      if (answer.ok) deadline = lastReport + warnAfterMs + leadMs
    } catch (err) { /* offline: this input is lost to the server (README.md, "Offline") */ }
  }

  const idle = new IdleJs({
    idle: warnAfterMs,
    events: ['mousemove', 'keydown', 'mousedown', 'touchstart'],
    onIdle: check,
    onActive: function () {},
    keepTracking: true
  })
  idle.start()

  for (const type of ['mousemove', 'keydown', 'mousedown', 'touchstart']) {
    window.addEventListener(type, function () {
      if (dialog.hidden && Date.now() - lastReport >= REPORT_EVERY_MS) keepAlive()
    }, { passive: true })
  }

  document.getElementById('stay-logged-in').addEventListener('click', async function () {
    await keepAlive()
    hideWarning()
    check()
  })
  document.getElementById('logout-now').addEventListener('click', function () {
    document.getElementById('logout-form').submit()
  })
  recheck = setTimeout(check, warnAfterMs)
})()
