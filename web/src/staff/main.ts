import 'bootstrap/dist/css/bootstrap.min.css';
import '../lib/app.css';
