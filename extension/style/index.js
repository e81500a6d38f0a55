import './base.css';
import './datasets.css';
import './jobs.css';
import './models.css';
import './links.css';
