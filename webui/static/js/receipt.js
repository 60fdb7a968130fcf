/** The receipt page's Print button (no inline handlers: the CSP forbids them). */
document.getElementById('receipt-print')?.addEventListener('click', () => window.print());
