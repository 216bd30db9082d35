/** Tailwind CSS 3 configuration for the ClinikAPI dashboard. */
const colors = require("tailwindcss/colors");

module.exports = {
  content: ["./views/**/*.templ", "./views/**/*.go", "./static/app.js"],
  theme: {
    extend: {
      colors: {
        brand: colors.teal,
        ink: colors.slate,
      },
      fontFamily: {
        sans: ["Inter", "ui-sans-serif", "system-ui", "-apple-system", "Segoe UI", "Roboto", "Helvetica Neue", "Arial", "sans-serif"],
        mono: ["JetBrains Mono", "ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"],
      },
    },
  },
  plugins: [require("@tailwindcss/forms")],
};
