/* koers login page: its language, and the message after a refused login or a logout. */
'use strict';
(function () {
  const I18N = window.KOERS_I18N;
  let lang = localStorage.getItem('koers.lang') === 'en' ? 'en' : 'nl';
  const t = (k) => (I18N[lang] && I18N[lang][k]) || I18N.nl[k] || k;
  function apply() {
    document.documentElement.lang = lang;
    document.title = t('login_title') + ' \u2013 ' + t('product');
    for (const e of document.querySelectorAll('[data-i18n]')) e.textContent = t(e.dataset.i18n);
    const b = document.getElementById('lang');
    b.textContent = t('lang_switch');
    b.setAttribute('lang', lang === 'nl' ? 'en' : 'nl');
    b.setAttribute('aria-label', t('lang_switch_label'));
    const q = new URLSearchParams(location.search);
    const msg = document.getElementById('login-message');
    const key = q.get('error') === 'wait' ? 'login_wait' : q.get('error') ? 'login_error' : q.get('logged_out') ? 'login_logged_out' : null;
    msg.hidden = !key;
    if (key) {
      msg.textContent = t(key);
      msg.className = 'notice' + (q.get('error') ? ' error' : '');
    }
  }
  document.addEventListener('DOMContentLoaded', () => {
    apply();
    document.getElementById('lang').addEventListener('click', () => {
      lang = lang === 'nl' ? 'en' : 'nl';
      localStorage.setItem('koers.lang', lang);
      apply();
    });
    const q = new URLSearchParams(location.search);
    (q.get('error') ? document.getElementById('password') : document.getElementById('user')).focus();
  });
})();
