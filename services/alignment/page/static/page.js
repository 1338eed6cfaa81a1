// The alignment page's script: refreshes the live part, asks for a token once when auth is
// required, and sends the page's actions (acknowledge, check in, what-if, apply a
// recommendation) to the services. Values from the services are put in the page as text only.
(function () {
  'use strict';
  var body = document.body;
  var live = document.getElementById('live');
  var message = document.getElementById('message');
  var tokenForm = document.getElementById('token-form');
  var liveUrl = body.dataset.liveUrl;
  var refreshMs = parseInt(body.dataset.refreshMs || '0', 10);
  var authRequired = body.dataset.auth === 'required';
  var strategyUrl = body.dataset.strategyUrl || '';
  var TOKEN_KEY = 'truenorth.token';

  function token() { return window.sessionStorage.getItem(TOKEN_KEY); }

  function headers(extra) {
    var found = extra || {};
    if (token()) { found.Authorization = 'Bearer ' + token(); }
    return found;
  }

  function say(text, ok) {
    message.textContent = text;
    message.className = ok ? 'ok' : '';
    message.hidden = false;
  }

  function askForToken(reason) {
    if (!tokenForm) { return; }
    if (reason) { say(reason); }
    tokenForm.hidden = false;
    document.getElementById('token-input').focus();
  }

  function describe(response, payload, service) {
    var detail = (payload && payload.detail) || response.statusText || 'no detail';
    var errors = (payload && payload.errors) || [];
    var fields = errors.map(function (e) { return (e.field ? e.field + ': ' : '') + e.message; });
    var text = service + ' refused (' + response.status + '): ' + detail;
    if (fields.length) { text += ' — ' + fields.join('; '); }
    if (response.status === 401) {
      text = 'Not signed in (' + response.status + '): ' + detail + '. Enter an API token.';
    } else if (response.status === 403) {
      text = 'This token may not do that (' + response.status + '): ' + detail + '.';
    }
    return text;
  }

  function refused(response, service) {
    return response.text().then(function (raw) {
      var payload = null;
      try { payload = JSON.parse(raw); } catch (e) { payload = { detail: raw.slice(0, 300) }; }
      var text = describe(response, payload, service);
      if (response.status === 401 || response.status === 403) { askForToken(text); } else { say(text); }
      var error = new Error(text);
      error.shown = true;
      throw error;
    });
  }

  function load() {
    return fetch(liveUrl, { cache: 'no-store', headers: headers() }).then(function (response) {
      if (response.status === 401 || response.status === 403) {
        return refused(response, 'The alignment service');
      }
      return response.text().then(function (html) {
        live.innerHTML = html;
        if (authRequired) { message.hidden = true; }
      });
    });
  }

  function busy() {
    var active = document.activeElement;
    if (active && live.contains(active) && /INPUT|TEXTAREA|SELECT/.test(active.tagName)) { return true; }
    var typed = live.querySelectorAll('textarea, input');
    for (var i = 0; i < typed.length; i++) { if (typed[i].value) { return true; } }
    return false;
  }

  function refreshUntil(text, tries) {
    // a write reaches this page through the bus and the projection: a moment later
    load().then(function () {
      if (live.textContent.indexOf(text) < 0 && tries > 0) {
        setTimeout(function () { refreshUntil(text, tries - 1); }, 700);
      }
    }).catch(function () {});
  }

  function send(method, url, payload, extra, service) {
    return fetch(url, {
      method: method,
      headers: headers(Object.assign({ 'Content-Type': 'application/json' }, extra || {})),
      body: JSON.stringify(payload)
    }).catch(function () {
      var text = 'Could not reach ' + service + ' at ' + url.split('/v1/')[0] +
        ' (is it running, and does it allow this page\'s origin?)';
      say(text);
      var error = new Error(text);
      error.shown = true;
      throw error;
    }).then(function (response) {
      if (!response.ok) { return refused(response, service); }
      return response.json();
    });
  }

  function strategyPath(ws, strategy) {
    return strategyUrl + '/v1/workspaces/' + encodeURIComponent(ws) + '/strategies/' +
      encodeURIComponent(strategy);
  }

  function failed(error) {
    // refusals have said why already; anything else (a bug, a bad answer) says so here
    if (!error || !error.shown) { say('Could not do that: ' + (error && error.message || error)); }
  }

  function withButton(form, work) {
    var button = form.querySelector('button');
    if (button) { button.disabled = true; }
    return work().catch(failed).then(function () { if (button) { button.disabled = false; } });
  }

  function acknowledge(form) {
    var note = form.elements.note.value.trim();
    var url = strategyPath(form.dataset.workspace, form.dataset.strategy) + '/drifts/' +
      encodeURIComponent(form.dataset.incident) + '/acknowledge';
    return send('POST', url, { note: note }, null, 'The strategy service').then(function () {
      form.elements.note.value = '';
      say('Acknowledged ' + form.dataset.incident + (note ? ' with your note.' : '.'), true);
      refreshUntil(note || 'acknowledged', 20);
    });
  }

  function checkIn(form) {
    var e = form.elements;
    var payload = { confidence: e.confidence.value, narrative: e.narrative.value.trim() };
    if (e.corrected_value.value !== '') { payload.corrected_value = parseFloat(e.corrected_value.value); }
    if (e.source.value.trim()) { payload.source = e.source.value.trim(); }
    var url = strategyPath(form.dataset.workspace, form.dataset.strategy) + '/objectives/' +
      encodeURIComponent(form.dataset.objective) + '/checkins';
    return send('POST', url, payload, null, 'The strategy service').then(function () {
      e.narrative.value = ''; e.corrected_value.value = ''; e.source.value = '';
      say('Check-in recorded.', true);
      refreshUntil(payload.narrative, 20);
    });
  }

  function side(value) {
    var parts = value.split(':');
    var found = {};
    found[parts[0]] = parts.slice(1).join(':');
    return found;
  }

  function cell(row, text, numeric) {
    var td = document.createElement(row.parentNode && row.parentNode.tagName === 'THEAD' ? 'th' : 'td');
    td.textContent = text;
    if (numeric) { td.className = 'num'; }
    row.appendChild(td);
  }

  function percent(value) { return value === null || value === undefined ? '—' : Math.round(value * 100) + '%'; }

  function whatIf(form) {
    var e = form.elements;
    var payload = {
      shifts: [{ from: side(e.from.value), to: side(e.to.value), amount: parseFloat(e.amount.value) }]
    };
    if (e.from_date.value) { payload.from = e.from_date.value; }
    var url = body.dataset.root + 'v1/workspaces/' + encodeURIComponent(form.dataset.workspace) +
      '/strategies/' + encodeURIComponent(form.dataset.strategy) + '/whatif';
    var out = form.parentNode.querySelector('.whatif-result');
    return send('POST', url, payload, null, 'The alignment service').then(function (answer) {
      out.textContent = '';
      var table = document.createElement('table');
      var head = document.createElement('thead');
      var tr = document.createElement('tr');
      head.appendChild(tr);
      ['objective', 'forecast before', 'after', 'P(hit) before', 'after'].forEach(function (t, i) {
        cell(tr, t, i > 0);
      });
      table.appendChild(head);
      var rows = document.createElement('tbody');
      (answer.objectives || []).forEach(function (o) {
        var row = document.createElement('tr');
        row.dataset.objective = o.objective_id;
        rows.appendChild(row);
        cell(row, o.name || o.objective_id);
        cell(row, percent(o.before.attainment), true);
        cell(row, percent(o.after.attainment), true);
        cell(row, (o.before.p_hit || 0).toFixed(2), true);
        cell(row, (o.after.p_hit || 0).toFixed(2), true);
      });
      table.appendChild(rows);
      out.appendChild(table);
      var list = document.createElement('ul');
      (answer.assumptions || []).forEach(function (a) {
        var li = document.createElement('li');
        li.textContent = a;
        list.appendChild(li);
      });
      out.appendChild(list);
    });
  }

  function apply(button) {
    var base = strategyPath(button.dataset.workspace, button.dataset.strategy);
    return fetch(base, { headers: headers(), cache: 'no-store' }).then(function (response) {
      if (!response.ok) { return refused(response, 'The strategy service'); }
      var etag = response.headers.get('ETag');
      return send(button.dataset.method, strategyUrl + button.dataset.path,
        JSON.parse(button.dataset.body), etag ? { 'If-Match': etag } : {}, 'The strategy service');
    }).then(function () {
      say('Revision applied: the strategy service recorded it in response to the incident.', true);
      refreshUntil('Answered by', 20);
    });
  }

  document.addEventListener('submit', function (event) {
    var form = event.target;
    var handlers = { 'ack-form': acknowledge, 'checkin-form': checkIn, 'whatif-form': whatIf };
    for (var name in handlers) {
      if (form.classList.contains(name)) {
        event.preventDefault();
        withButton(form, function () { return handlers[name](form); });
        return;
      }
    }
    if (form === tokenForm) {
      event.preventDefault();
      window.sessionStorage.setItem(TOKEN_KEY, document.getElementById('token-input').value.trim());
      tokenForm.hidden = true;
      message.hidden = true;
      load().catch(function () {});
    }
  });

  document.addEventListener('click', function (event) {
    var button = event.target.closest && event.target.closest('button.apply');
    if (button) {
      button.disabled = true;
      apply(button).catch(failed).then(function () { button.disabled = false; });
    }
  });

  if (authRequired && !token()) {
    askForToken();
  } else if (authRequired) {
    load().catch(function () {});
  }
  if (refreshMs > 0) {
    setInterval(function () {
      if (!busy() && (!authRequired || token())) { load().catch(function () {}); }
    }, refreshMs);
  }
})();
