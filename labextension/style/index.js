import './base.css';
import './chat.css';
import './review.css';
import './edit.css';
import './fix.css';
import './nextedit.css';
import './kernel.css';
